"""Stand-in API server for the real-host tests: nodes register, drain and are deleted over
HTTP, bootstrap tokens are checked against the tokens file kubeadm writes, and every change is
appended to /var/log/standin-apiserver.log so that tests can check the order of events."""
import http.server
import sys
import time

PORT = int(sys.argv[1])
TOKENS = sys.argv[2]
LOG = "/var/log/standin-apiserver.log"
nodes = set()
configmaps = set()


def record(event):
    with open(LOG, "a") as f:
        f.write(f"{time.time():.3f} {event}\n")


def token_valid(token):
    try:
        with open(TOKENS) as f:
            for line in f:
                value, expires = line.split()
                if value == token and float(expires) > time.time():
                    return True
    except FileNotFoundError:
        pass
    return False


class Handler(http.server.BaseHTTPRequestHandler):
    def reply(self, code, body="ok"):
        data = (body + "\n").encode()
        self.send_response(code)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def node(self):
        parts = self.path.strip("/").split("/")
        return parts[3] if len(parts) >= 4 and parts[:3] == ["api", "v1", "nodes"] else None

    def do_GET(self):
        if self.path in ("/readyz", "/version"):
            return self.reply(200)
        if self.path.startswith("/bootstrap/"):
            return self.reply(200 if token_valid(self.path.split("/")[2]) else 403)
        name = self.node()
        self.reply(200 if name in nodes else 404, name or "")

    def do_PUT(self):
        if self.path.startswith("/configmaps/"):
            name = self.path.split("/")[2]
            if name in configmaps:
                return self.reply(409)
            configmaps.add(name)
            record(f"configmap-create {name}")
            return self.reply(200)
        if self.path.startswith("/bootstrap/"):
            # /bootstrap/<token>/<expires>: a token made through the API, as kubeadm does from any host.
            _, _, token, expires = self.path.split("/")
            with open(TOKENS, "a") as f:
                f.write(f"{token} {expires}\n")
            record(f"token-create {token.split('.')[0]}")
            return self.reply(200)
        name = self.node()
        nodes.add(name)
        record(f"register {name}")
        self.reply(200)

    def do_POST(self):
        # /api/v1/nodes/<name>/<action>: drain, uncordon, taint, untaint.
        name = self.node()
        if name not in nodes:
            return self.reply(404)
        action = self.path.strip("/").split("/")[-1]
        record(f"{action} {name}")
        self.reply(200)

    def do_DELETE(self):
        if self.path.startswith("/configmaps/"):
            name = self.path.split("/")[2]
            if name not in configmaps:
                return self.reply(404)
            configmaps.discard(name)
            record(f"configmap-delete {name}")
            return self.reply(200)
        if self.path.startswith("/bootstrap/"):
            token_id = self.path.split("/")[2]
            with open(TOKENS) as f:
                kept = [line for line in f if not line.startswith(token_id + ".")]
            with open(TOKENS, "w") as f:
                f.writelines(kept)
            record(f"token-delete {token_id}")
            return self.reply(200)
        name = self.node()
        if name not in nodes:
            return self.reply(404)
        nodes.discard(name)
        record(f"delete {name}")
        self.reply(200)

    def log_message(self, *args):
        pass


http.server.ThreadingHTTPServer(("0.0.0.0", PORT), Handler).serve_forever()
