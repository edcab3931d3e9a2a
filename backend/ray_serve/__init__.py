"""``ray-serve``: Atelier's tasks as a Ray Serve application over HTTP (core/PROTOCOL.md, "Over HTTP").

An ingress deployment (FastAPI: bearer-token check, the job registry, uploads and downloads)
hands each job to a worker deployment, whose replicas keep models warm and run one job at a time
with the same task code as ``python -m backend serve``.
"""
