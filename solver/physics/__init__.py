"""The physics: domain and region markers, material fields, the weak forms of Li+
transport, elasticity with diffusion-induced eigenstrain and O2 transport with RuO2
capture, the charge protocol and the closed-form solutions used for verification."""
