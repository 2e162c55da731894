"""Face detectors behind one interface: `base.create_detector(name, **params).detect(rgb)`."""
