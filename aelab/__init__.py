"""aelab: an autoencoder lab.

Models, trainers and measurements for the classic autoencoder papers (denoising,
contractive, deep, stacked what-where, augmented classifiers), with widget dashboards.
"""

__version__ = "0.1.0"
