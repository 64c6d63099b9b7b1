"""A browser-free Streamlit session: the Live page's upload as the browser makes it, for load.

    session = LiveSession("http://127.0.0.1:8080")   # GET /live, then the websocket
    answer = session.upload("photo.jpg", data)       # -> Answer(seconds, models, replica)
    session.close()

Speaks the protocol Streamlit's own frontend speaks (``streamlit.proto``): the health check
that sets the XSRF cookie, a websocket at
``/_stcore/stream`` whose subprotocols carry the XSRF token; ``BackMsg.rerun_script`` runs the
page; an upload asks for its URL (``file_urls_request``), PUTs the file there with the token in
``X-Xsrftoken``, then reruns the page with the uploader's state naming the file. The session
keeps its cookies, so behind ``python -m core.serve`` nginx's route cookie keeps it on one
replica, as a browser's would be. An answer counts once every expected model's result box
("**<label>**: <class>", ``pages/live.py``) has come back in that run.
"""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass
from urllib.parse import urlparse

import requests
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from websockets.sync.client import connect

XSRF_COOKIE = "_streamlit_xsrf"
REPLICA_HEADER = "X-Studio-Replica"
# A result box's first line: "**Custom**: cat", or "Custom: *guess* cat" for a flagged image.
BOX = re.compile(r"^(?:\*\*)?(?P<label>[^*:]+?)(?:\*\*)?: (?:\*guess\* )?(?P<cls>[a-z]+)$")


@dataclass(frozen=True)
class Answer:
    seconds: float  # from asking for the upload URL to every expected model's box
    finished: float  # ... to the end of the page's run (Grad-CAM heatmaps included)
    models: dict[str, str]  # label -> class, as the result boxes show them
    replica: str  # the X-Studio-Replica header of the upload (empty without nginx)


class LiveSession:
    """One session on the Live page (``page``), its own cookies and websocket."""

    def __init__(self, base_url: str, page: str = "live", timeout_s: float = 120.0):
        self.base, self.page, self.timeout_s = base_url.rstrip("/"), page, timeout_s
        self.http = requests.Session()
        self.http.get(f"{self.base}/{page}", timeout=timeout_s).raise_for_status()
        # The frontend's first health check is what sets the XSRF cookie.
        self.http.get(f"{self.base}/_stcore/health", timeout=timeout_s).raise_for_status()
        self.xsrf = self.http.cookies.get(XSRF_COOKIE, "")
        cookies = "; ".join(f"{c.name}={c.value}" for c in self.http.cookies)
        parts = urlparse(self.base)
        scheme = "wss" if parts.scheme == "https" else "ws"
        self.ws = connect(
            f"{scheme}://{parts.netloc}{parts.path}/_stcore/stream",
            subprotocols=["streamlit", self.xsrf] if self.xsrf else ["streamlit"],
            additional_headers={"Cookie": cookies, "Origin": self.base},
            max_size=None,
            open_timeout=timeout_s,
        )
        self.session_id = ""
        self.uploader_id = ""
        self._run()  # the page's first run: its session id and the uploader's widget id
        if not self.uploader_id:
            raise RuntimeError(f"no file uploader on /{page}")

    def upload(self, name: str, data: bytes, expected: int = 1, mime: str = "image/jpeg") -> Answer:
        """Upload one file; the answer once the run has ended. ``expected``: how many models'
        boxes make the answer (its ``seconds``)."""
        started = time.perf_counter()
        request = BackMsg()
        request.file_urls_request.request_id = uuid.uuid4().hex
        request.file_urls_request.file_names.append(name)
        request.file_urls_request.session_id = self.session_id
        self.ws.send(request.SerializeToString())
        urls = self._receive_until(lambda msg: msg.HasField("file_urls_response"))
        file_urls = urls.file_urls_response.file_urls[0]
        put = self.http.put(
            self.base + file_urls.upload_url
            if file_urls.upload_url.startswith("/")
            else file_urls.upload_url,
            files={"file": (name, data, mime)},
            headers={"X-Xsrftoken": self.xsrf},
            timeout=self.timeout_s,
        )
        put.raise_for_status()
        state = BackMsg()
        widget = state.rerun_script.widget_states.widgets.add()
        widget.id = self.uploader_id
        info = widget.file_uploader_state_value.uploaded_file_info.add()
        info.name, info.size, info.file_id = name, len(data), file_urls.file_id
        info.file_urls.CopyFrom(file_urls)
        models, answered = self._run(state, expected)
        return Answer(
            (answered or time.perf_counter()) - started,
            time.perf_counter() - started,
            models,
            put.headers.get(REPLICA_HEADER, ""),
        )

    def close(self) -> None:
        self.ws.close()
        self.http.close()

    def _run(
        self, message: BackMsg | None = None, expected: int = 1
    ) -> tuple[dict[str, str], float | None]:
        """Rerun the page (with ``message``'s widget states): the result boxes of that run and
        when the ``expected``-th came (None if fewer came)."""
        message = message or BackMsg()
        message.rerun_script.page_name = self.page
        self.ws.send(message.SerializeToString())
        boxes: dict[str, str] = {}
        answered: list[float] = []

        def finished(msg: ForwardMsg) -> bool:
            if msg.HasField("new_session"):
                self.session_id = msg.new_session.initialize.session_id or self.session_id
            elif msg.HasField("delta") and msg.delta.HasField("new_element"):
                element = msg.delta.new_element
                if element.HasField("file_uploader"):
                    self.uploader_id = element.file_uploader.id
                elif element.HasField("markdown"):
                    found = BOX.match(element.markdown.body)
                    if found:
                        boxes[found["label"]] = found["cls"]
                        if len(boxes) == expected:
                            answered.append(time.perf_counter())
            return msg.HasField("script_finished")

        self._receive_until(finished)
        return boxes, (answered[0] if answered else None)

    def _receive_until(self, done) -> ForwardMsg:
        deadline = time.monotonic() + self.timeout_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no answer within {self.timeout_s:g} s")
            msg = ForwardMsg()
            msg.ParseFromString(self.ws.recv(timeout=left))
            if done(msg):
                return msg
