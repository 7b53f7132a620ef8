"""Thermometers: read a temperature off configurations. curve: physics thermometers (energy,
|m| curves); neural: the papers' MLP classifier (trained by hpcrbm/stages/thermometer.py)."""
