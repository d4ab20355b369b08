"""The trained model behind a local web page: draw a digit and see, as you draw, what the model answers.

The page (apps/page/) posts what was drawn, or an uploaded file, as it stands; the server reads and
normalises it with the code predict uses (apps/images.py, model/inference.py), so the page answers
what `python -m mnist_dvc.apps.predict` would say of the same file, and shows the 28x28 image the model saw.
The server listens at once and loads the model meanwhile, off the event loop: TensorFlow takes seconds to import.
"""

import asyncio
import io
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from aiohttp import web

from mnist_dvc.apps.images import ImageError, read_image, to_mnist
from mnist_dvc.apps.trust import doubt
from mnist_dvc.core.errors import PipelineError

if TYPE_CHECKING:  # importing it imports TensorFlow, which the model's loader does, off the event loop
    from mnist_dvc.model.inference import Classifier

PAGE_DIR = Path(__file__).parent / "page"
MAX_BODY_BYTES = 5 * 1024 * 1024
TOP = 3
UPLOAD_NAME = "the posted image"

LOADER = web.AppKey("loader", Callable)
ABOUT = web.AppKey("about", dict)
# The classifier, once the loader has made it; the requests that come before wait for it.
CLASSIFIER = web.AppKey("classifier", asyncio.Future)
# One worker: the model runs on one request at a time, off the event loop, which keeps serving meanwhile.
EXECUTOR = web.AppKey("executor", ThreadPoolExecutor)


def answer(classifier: "Classifier", body: bytes) -> dict:
    """What the page shows for an image: the likeliest classes with their probabilities, why not to trust the
    answer (or None), and the image the model saw (784 uint8 values, row by row). ImageError when the body is no
    image or holds no digit."""
    image = to_mnist(read_image(io.BytesIO(body), UPLOAD_NAME), UPLOAD_NAME)
    probabilities = classifier.probabilities(image[np.newaxis])[0]
    order = (-probabilities).argsort(kind="stable")[:TOP]
    top = [[classifier.classes[k], float(probabilities[k])] for k in order]
    label, probability = top[0]
    return {
        "label": label,
        "probability": probability,
        "doubt": doubt(image, probability),
        "top": top,
        "image": image.ravel().tolist(),
    }


async def _predict(request: web.Request) -> web.Response:
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge:
        message = f"the image is larger than {MAX_BODY_BYTES // 2**20} MB"
        return web.json_response({"error": message}, status=413)
    app = request.app
    classifier = await app[CLASSIFIER]
    try:
        result = await asyncio.get_running_loop().run_in_executor(app[EXECUTOR], answer, classifier, body)
    except ImageError as error:
        return web.json_response({"error": str(error)}, status=400)
    return web.json_response(result)


async def _index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(PAGE_DIR / "index.html")


async def _about(request: web.Request) -> web.Response:
    return web.json_response(request.app[ABOUT])


async def _model_worker(app: web.Application) -> AsyncIterator[None]:
    """The model's thread, which loads it first."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="model") as executor:
        app[EXECUTOR] = executor
        app[CLASSIFIER] = asyncio.get_running_loop().run_in_executor(executor, app[LOADER])
        yield


def make_app(load: Callable[[], "Classifier"], about: dict | None = None) -> web.Application:
    """The web application: GET / the page, GET /static/* its files, GET /about what is known of the model,
    POST /predict an image's answer. load makes the classifier, in the model's thread, once the app starts."""
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app[LOADER] = load
    app[ABOUT] = about or {}
    app.cleanup_ctx.append(_model_worker)
    app.router.add_get("/", _index)
    app.router.add_get("/about", _about)
    app.router.add_static("/static/", PAGE_DIR)
    app.router.add_post("/predict", _predict)
    return app


async def serve(load: Callable[[], "Classifier"], about: dict, host: str, port: int) -> None:
    """Serve the page until cancelled, printing its URL (with the port chosen, if port is 0) before the model is
    loaded; a model that fails to load ends it, in one line."""
    app = make_app(load, about)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        try:
            await web.TCPSite(runner, host, port).start()
        except OSError as error:
            raise PipelineError(f"{host}:{port}: cannot listen ({error.strerror}); try another --port") from None
        bound_host, bound_port = runner.addresses[0][:2]
        print(f"serve: http://{bound_host}:{bound_port}/ (Ctrl-C to stop)")
        await app[CLASSIFIER]
        print(f"serve: {about.get('model', 'the model')} loaded; answering")
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
