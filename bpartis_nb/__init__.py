"""bpartis_nb: Bayesian particle instance segmentation (BPartIS) of electron micrographs.

>>> import bpartis_nb
>>> result = bpartis_nb.segment("micrograph.png")            # doctest: +SKIP
>>> table = bpartis_nb.measure(result.labels, scale=0.8)     # doctest: +SKIP
"""
from .analysis import measure, pixel_size_from_scalebar
from .calibration import Calibration, CalibrationWarning, read_calibration
from .cluster import ClusterParams, cluster_embeddings, cluster_output
from .examples import Example, synthetic_micrograph
from .figures import FigureResult, segment_figure
from .inference import Segmentation
from .io import ImageError, read_image
from .metrics import image_metrics
from .model import BranchedERFNet, mc_dropout
from .panels import split_panels
from .pipeline import segment
from .uncertainty import expected_entropy, mutual_information, predictive_entropy
from .weights import BPARTIS_EMPS_2021, WeightsUnavailableError, load_model, resolve_weights

__version__ = "0.1.0"

__all__ = [
    "BPARTIS_EMPS_2021",
    "BranchedERFNet",
    "Calibration",
    "CalibrationWarning",
    "ClusterParams",
    "Example",
    "FigureResult",
    "ImageError",
    "Segmentation",
    "WeightsUnavailableError",
    "cluster_embeddings",
    "cluster_output",
    "expected_entropy",
    "image_metrics",
    "load_model",
    "mc_dropout",
    "measure",
    "mutual_information",
    "pixel_size_from_scalebar",
    "predictive_entropy",
    "read_calibration",
    "read_image",
    "resolve_weights",
    "segment",
    "segment_figure",
    "split_panels",
    "synthetic_micrograph",
]
