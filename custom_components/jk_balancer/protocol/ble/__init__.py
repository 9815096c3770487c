"""JK balancers and BMS over Bluetooth: frames, layouts, detection, the client."""
