"""SIMULATORS of the external platforms (eSSC, EHC, NHSA) and of a HIS, for demos and tests only."""
