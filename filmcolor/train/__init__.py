"""Training the colouriser: the seed's L1-then-GAN recipe, reproducible, resumable, data-parallel."""

from filmcolor.train.config import TrainConfig
from filmcolor.train.loop import train

__all__ = ["TrainConfig", "train"]
