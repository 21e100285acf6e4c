"""The HACBSR engine: pure numpy + torch, no napari or Qt imports."""
