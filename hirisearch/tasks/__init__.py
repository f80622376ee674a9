"""Task models: a backbone's feature pyramid under a neck and a head (torch-free except the
``*_nn`` modules)."""
