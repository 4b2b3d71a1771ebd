# A function written as an attacker: each command tries one way out of its sandbox and reports
# whether it worked. Run by the real fdk; driven by crates/fngate/tests/functions_sandbox.rs.
import ctypes
import errno
import io
import json
import mmap
import os
import signal
import socket
import subprocess
import time
import uuid

from fdk import response

INSTANCE = uuid.uuid4().hex
libc = ctypes.CDLL(None, use_errno=True)


def attempt(fn):
    try:
        detail = fn()
        return {"succeeded": True, "detail": str(detail)[:300]}
    except Exception as ex:  # noqa: BLE001 - every failure is the expected outcome
        return {"succeeded": False, "detail": repr(ex)[:300]}


def targets():
    return [int(p) for p in (os.environ.get("SERVER_PID"), os.environ.get("VICTIM_PID")) if p]


def read_secrets():
    data = os.environ.get("DATA_DIR", "/nonexistent")
    found = {}
    for rel in ("admin-token", "fngate.db", "idp/ca-key.pem", "functions/uids.json"):
        try:
            with open(os.path.join(data, rel), "rb") as f:
                found[rel] = len(f.read())
        except OSError:
            pass
    if not found:
        raise PermissionError("no secret file readable")
    return found


def other_code():
    # Any func.py or requirements.txt but our own, anywhere we can see.
    seen = []
    for top in ("/", os.environ.get("DATA_DIR", "/nonexistent")):
        for root, dirs, files in os.walk(top):
            dirs[:] = [d for d in dirs if os.path.join(root, d) not in ("/proc", "/sys", "/function")]
            seen += [os.path.join(root, f) for f in files if f in ("func.py", "func.js", "fngate.db")]
    if not seen:
        raise FileNotFoundError("no other function's code visible")
    return seen


def environ_of_others():
    stolen = []
    pids = set(targets())
    pids.update(int(p) for p in os.listdir("/proc") if p.isdigit())
    for pid in pids:
        if pid == os.getpid():
            continue
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                text = f.read()
            if b"VICTIM_SECRET" in text or b"FNGATE" in text or text:
                stolen.append(pid)
        except OSError:
            pass
    if not stolen:
        raise PermissionError("no other process's environ readable")
    return stolen


def ptrace_others():
    child = os.fork()
    if child == 0:
        time.sleep(30)
        os._exit(0)
    attached = []
    try:
        for pid in targets() + [child]:
            if libc.ptrace(16, pid, None, None) == 0:  # PTRACE_ATTACH
                attached.append(pid)
    finally:
        os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)
    if not attached:
        raise PermissionError("ptrace refused: errno %d" % ctypes.get_errno())
    return attached


def signal_others():
    signalled = []
    for pid in targets():
        try:
            os.kill(pid, 0)
            signalled.append(pid)
        except OSError:
            pass
    if not signalled:
        raise PermissionError("no other process can be signalled")
    return signalled


def fork_bomb():
    children = []
    error = None
    try:
        for _ in range(500):
            pid = os.fork()
            if pid == 0:
                time.sleep(30)
                os._exit(0)
            children.append(pid)
    except OSError as ex:
        error = ex
    finally:
        for pid in children:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
    if error is not None:
        raise OSError("forked %d before %r" % (len(children), error))
    return len(children)


def daemon(marker):
    subprocess.run(["setsid", "-f", "sleep", marker], check=True)
    return "started sleep " + marker


def shared_memory():
    size = 400 * 1024 * 1024
    region = mmap.mmap(-1, size, flags=mmap.MAP_SHARED)
    for offset in range(0, size, 4096):
        region[offset] = 1
    return "touched %d MB" % (size >> 20)


def fill_disk():
    written = 0
    chunk = b"x" * (1 << 20)
    with open("/tmp/fill", "wb") as f:
        try:
            while written < 1024 << 20:
                f.write(chunk)
                f.flush()
                written += len(chunk)
        except OSError as ex:
            raise OSError("stopped after %d MB: %r" % (written >> 20, ex))
        finally:
            os.unlink("/tmp/fill")
    return "wrote %d MB" % (written >> 20)


def write_outside_tmp():
    done = []
    for path in ("/function/func.py", "/python/pwned", "/pwned", "/etc/pwned", "/usr/pwned"):
        try:
            with open(path, "a") as f:
                f.write("x")
            done.append(path)
        except OSError:
            pass
    if not done:
        raise PermissionError("nothing outside /tmp is writable")
    return done


def bind_tcp():
    bound = []
    for family, host in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
        s = socket.socket(family, socket.SOCK_STREAM)
        try:
            s.bind((host, 0))
            s.listen()
            bound.append(s.getsockname())
        except OSError:
            pass
        finally:
            s.close()
    if not bound:
        raise PermissionError("no TCP port can be bound")
    return bound


def new_namespace():
    if libc.unshare(0x10000000) != 0:  # CLONE_NEWUSER
        raise PermissionError("unshare refused: errno %d" % ctypes.get_errno())
    return "new user namespace"


def status():
    fields = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("Uid", "CapEff", "CapPrm", "CapBnd", "NoNewPrivs", "Seccomp"):
                fields[key] = value.strip()
    fields["pid"] = os.getpid()
    fields["cwd"] = os.getcwd()
    fields["instance"] = INSTANCE
    fields["listener"] = os.environ.get("FN_LISTENER")
    return fields


ATTACKS = {
    "read_secrets": read_secrets,
    "other_code": other_code,
    "environ": environ_of_others,
    "ptrace": ptrace_others,
    "signal": signal_others,
    "fork_bomb": fork_bomb,
    "write_outside_tmp": write_outside_tmp,
    "bind_tcp": bind_tcp,
    "namespace": new_namespace,
    "fill_disk": fill_disk,
}


def handler(ctx, data: io.BytesIO = None):
    cmd = data.getvalue().decode()
    if cmd == "status":
        out = status()
    elif cmd == "all":
        out = {name: attempt(fn) for name, fn in ATTACKS.items()}
    elif cmd.startswith("daemon "):
        out = attempt(lambda: daemon(cmd.split()[1]))
    elif cmd == "shared_memory":
        out = attempt(shared_memory)
    else:
        out = attempt(ATTACKS[cmd])
    out = {"instance": INSTANCE, "result": out}
    return response.Response(ctx, response_data=json.dumps(out), headers={"Content-Type": "application/json"})
