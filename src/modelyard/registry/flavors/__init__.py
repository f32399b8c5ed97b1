"""Model flavors: one module per kind of model, each imported lazily by its own methods.

``default_flavors()`` lists them in detection order: the libraries whose estimators also look like
scikit-learn's (XGBoost, LightGBM) come before scikit-learn, and the pickled Python object comes last.
"""

from __future__ import annotations

from modelyard.registry.flavors.base import Flavor, NativeModel, PackageFiles, Saved
from modelyard.registry.flavors.lightgbm import LightGBMFlavor
from modelyard.registry.flavors.onnx import OnnxFlavor
from modelyard.registry.flavors.pickled import PythonFlavor
from modelyard.registry.flavors.sklearn import SklearnFlavor
from modelyard.registry.flavors.torch import TorchFlavor
from modelyard.registry.flavors.xgboost import XGBoostFlavor

__all__ = ["Flavor", "NativeModel", "PackageFiles", "Saved", "default_flavors"]


def default_flavors() -> list[Flavor]:
    """Every built-in flavor, in detection order."""
    return [XGBoostFlavor(), LightGBMFlavor(), OnnxFlavor(), TorchFlavor(), SklearnFlavor(), PythonFlavor()]
