#!/usr/bin/env bash
echo "demo: to be written"
