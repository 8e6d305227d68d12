"""Click and conversion models: feature spec, training, evaluation, export, scorer.

Bidder side (pure Python, no numpy/scikit-learn):
    features.py   the feature spec: raw bid-time fields -> hashed token indices
    artifact.py   the JSON model file: schema, checksum, validation
    scorer.py     load_model(path) -> ScoringModel.predict(raw) -> probability
    registry.py   <home>/models/<name>/<version>/, CURRENT, history

Training side:
    data.py       the feature marts from DuckDB; the simulator's truth
    encode.py     columnar hashing of a table into the sparse design matrix
    train.py      time split, negative downsampling, logistic regression, C by validation
    evaluate.py   AUC, log loss, normalized entropy, calibration, Brier; plots
    export.py     artifact + parity check + quality gate + registry: train_and_export()
    cli.py        `bidlake train`
    synthetic.py  marts drawn from a known logistic truth (tests, benchmarks)
"""
