"""bdnn export layer: a trained network to bit-packed C99 and ONNX, and bit-exact verification.

Modules (one concept each): ``bitpack`` (word packing, weight bit-planes), ``plan`` (a network
lowered to planes, thresholds and accumulator types), ``names`` (validated C names, safe comment
text), ``render`` (the Jinja2 templates), ``c_export``, ``onnx_export``, ``size_report``,
``verify`` and ``backends`` (one module per verification backend). Imports only ``bdnn`` core
modules (network, quantizer, model_file, errors), never the trainer.
"""
