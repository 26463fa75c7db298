"""Training the two-layer net of 5.7.4 on handwritten digits: data, net, loop, replay."""
