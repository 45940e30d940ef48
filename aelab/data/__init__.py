"""Datasets by name, their download and generation, and corruption processes.

    >>> from aelab import data
    >>> train = data.load("mnist", "train")        # x: 50000 x 1 x 28 x 28 float32 in [0, 1]
    >>> noisy = data.corrupt(train.x[:100], "masking", 0.25)
    >>> x, y = data.images("mnist", "test", 500, size=32)  # tensors: first 500, padded to 32x32
    >>> train, valid, test = data.splits("mnist-rot", "cpu", n_train=2000)
"""

from aelab.data.catalog import DATASETS, SPLITS, DatasetInfo
from aelab.data.corruption import KINDS as NOISE_KINDS
from aelab.data.corruption import check_noise, corrupt, parse_noise
from aelab.data.datasets import Dataset, load, prepare, status
from aelab.data.errors import CorruptFile, DataError, DatasetNotFound
from aelab.data.root import DATA_ENV, data_root
from aelab.data.selection import images, splits
from aelab.data.subsets import balanced_subset, pad_to, translate

__all__ = [
    "DATASETS", "SPLITS", "DatasetInfo", "Dataset", "load", "prepare", "status", "images", "splits",
    "corrupt", "check_noise", "parse_noise", "NOISE_KINDS",
    "balanced_subset", "translate", "pad_to",
    "DataError", "DatasetNotFound", "CorruptFile", "DATA_ENV", "data_root",
]
