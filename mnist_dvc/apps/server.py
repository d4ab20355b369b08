"""The trained model behind a local web page: draw a digit and see, as you draw, what the model answers.

The page (apps/page/) posts what was drawn, or an uploaded file, as it stands; the server reads and
normalises it with the code predict uses (apps/images.py, model/inference.py), so the page answers
what `python -m mnist_dvc.apps.predict` would say of the same file, and shows the 28x28 image the model saw.
"""

import asyncio
import io
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from aiohttp import web

from mnist_dvc.apps.images import ImageError, read_image, to_mnist
from mnist_dvc.core.errors import PipelineError
from mnist_dvc.model.inference import Classifier

PAGE_DIR = Path(__file__).parent / "page"
MAX_BODY_BYTES = 5 * 1024 * 1024
TOP = 3
UPLOAD_NAME = "the posted image"

CLASSIFIER = web.AppKey("classifier", Classifier)
# One worker: the model runs on one request at a time, off the event loop, which keeps serving meanwhile.
EXECUTOR = web.AppKey("executor", ThreadPoolExecutor)


def answer(classifier: Classifier, body: bytes) -> dict:
    """What the page shows for an image: the likeliest classes with their probabilities, and the image the
    model saw (784 uint8 values, row by row). ImageError when the body is no image or holds no digit."""
    image = to_mnist(read_image(io.BytesIO(body), UPLOAD_NAME), UPLOAD_NAME)
    probabilities = classifier.probabilities(image[np.newaxis])[0]
    order = (-probabilities).argsort(kind="stable")[:TOP]
    top = [[classifier.classes[k], float(probabilities[k])] for k in order]
    return {"label": top[0][0], "probability": top[0][1], "top": top, "image": image.ravel().tolist()}


async def _predict(request: web.Request) -> web.Response:
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge:
        message = f"the image is larger than {MAX_BODY_BYTES // 2**20} MB"
        return web.json_response({"error": message}, status=413)
    app = request.app
    try:
        result = await asyncio.get_running_loop().run_in_executor(app[EXECUTOR], answer, app[CLASSIFIER], body)
    except ImageError as error:
        return web.json_response({"error": str(error)}, status=400)
    return web.json_response(result)


async def _index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(PAGE_DIR / "index.html")


async def _model_worker(app: web.Application) -> AsyncIterator[None]:
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="model") as executor:
        app[EXECUTOR] = executor
        yield


def make_app(classifier: Classifier) -> web.Application:
    """The web application: GET / the page, GET /static/* its files, POST /predict an image's answer."""
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app[CLASSIFIER] = classifier
    app.cleanup_ctx.append(_model_worker)
    app.router.add_get("/", _index)
    app.router.add_static("/static/", PAGE_DIR)
    app.router.add_post("/predict", _predict)
    return app


async def serve(classifier: Classifier, host: str, port: int) -> None:
    """Serve the page until cancelled, after printing its URL (with the port chosen, if port is 0)."""
    runner = web.AppRunner(make_app(classifier), access_log=None)
    await runner.setup()
    try:
        try:
            await web.TCPSite(runner, host, port).start()
        except OSError as error:
            raise PipelineError(f"{host}:{port}: cannot listen ({error.strerror}); try another --port") from None
        bound_host, bound_port = runner.addresses[0][:2]
        print(f"serve: http://{bound_host}:{bound_port}/ (Ctrl-C to stop)")
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
