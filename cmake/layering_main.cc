// The executable of a layering check (cmake/layering.cmake): it only has to link, which it does
// when the objects of one part and of the parts below it need nothing from any other part.
int main() { return 0; }
