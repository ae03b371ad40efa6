"""The server a Python user would write instead of `recurrent serve`: FastAPI + uvicorn +
onnxruntime, serving the same LSTMs (exported by serve_anchor_models.py) on the same route and
JSON body as the Open Inference Protocol's infer, so one load script drives both.

    python serve_anchor.py MODELDIR PORT [WORKERS]

Each model NAME.onnx in MODELDIR answers POST /v2/models/NAME/infer with {"inputs": [{"name":
"x", "shape": [B, T, I], "datatype": "FP32", "data": [...]}], "outputs": [{"name": ...}]} and
returns the outputs asked for (all of y, h_n, c_n by default) as JSON.
"""
import glob
import os
import sys

import numpy as np
import onnxruntime
import uvicorn
from fastapi import FastAPI, HTTPException, Request

app = FastAPI()
sessions = {}


def load(directory):
    for path in sorted(glob.glob(os.path.join(directory, "*.onnx"))):
        name = os.path.splitext(os.path.basename(path))[0]
        sessions[name] = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])


@app.get("/v2/health/ready")
def ready():
    return {"ready": True}


@app.post("/v2/models/{name}/infer")
async def infer(name: str, request: Request):
    session = sessions.get(name)
    if session is None:
        raise HTTPException(status_code=404, detail=f"unknown model {name}")
    body = await request.json()
    tensors = {t["name"]: np.asarray(t["data"], dtype=np.float32).reshape(t["shape"]) for t in body["inputs"]}
    x = tensors["x"]
    state_shape = [i for i in session.get_inputs() if i.name == "h0"][0].shape
    zeros = np.zeros((state_shape[0], x.shape[0], state_shape[2]), dtype=np.float32)
    y, h_n, c_n = session.run(None, {"x": x, "h0": tensors.get("h0", zeros), "c0": tensors.get("c0", zeros)})
    results = {"y": y, "h_n": h_n, "c_n": c_n}
    wanted = [o["name"] for o in body.get("outputs", [])] or list(results)
    return {"model_name": name, "model_version": "1", "outputs": [
        {"name": n, "datatype": "FP32", "shape": list(results[n].shape), "data": results[n].ravel().tolist()} for n in wanted]}


if __name__ == "__main__":
    load(sys.argv[1])
    os.environ["ANCHOR_MODELS"] = sys.argv[1]
    workers = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    if workers > 1:
        # Each worker process loads the models itself.
        uvicorn.run("serve_anchor:app", host="127.0.0.1", port=int(sys.argv[2]), workers=workers, log_level="warning")
    else:
        uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
elif os.environ.get("ANCHOR_MODELS"):
    load(os.environ["ANCHOR_MODELS"])
