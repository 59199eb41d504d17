"""Customer segmentation mart: data-quality review, id repair, RFM scores and rule-based segments."""

__version__ = "0.1.0"
