"""The RBM flow itself: iterate a trained RBM (v -> h -> v ...) and measure the visible states
(flows.py); the flow stage (hpcrbm/stages/flow.py) runs it from every start."""
