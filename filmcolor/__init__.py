"""filmcolor: give colour back to black-and-white films, CCTV footage and old photos."""

from filmcolor.colorize import Colorizer
from filmcolor.errors import FilmcolorError
from filmcolor.models import create_model, list_models

__version__ = "0.1.0"
__all__ = ["Colorizer", "FilmcolorError", "create_model", "list_models", "__version__"]
