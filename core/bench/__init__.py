"""Evaluation and benchmark suite: synthetic CMU motion in real and random rigs with
detector noise measured on Shelf, Shelf real detections, triangulation baselines,
metrics and the ``skelsplat bench`` report. Research data are read from
``../shared/data`` at run time and never bundled."""
