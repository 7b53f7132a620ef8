"""Thermometers: read a temperature off configurations. curve: physics thermometers (energy,
|m| curves); neural: the papers' MLP classifier; stage: the thermometer stage (thermometer.h5)."""
