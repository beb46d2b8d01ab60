"""The pure decision core: plain values in, plain values out; no Kafka, no Faust, no I/O loop."""
