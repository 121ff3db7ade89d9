//! Anonymous pipes (S129-S138).
