# docker-py's images.build against the engine in DOCKER_HOST (Debian's
# python3-docker 5.0.3): a tagged build with build args and labels, the
# stream it parses, a rebuild from cache, an out-of-context Dockerfile,
# --target, and the BuildError of a failing RUN. One "ok"/"FAIL" line per check.
import io, os, sys, tarfile, tempfile, docker

fails = 0
def check(cond, what):
    global fails
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        fails += 1

run = os.environ.get("TSD_BUILD_RUN", str(os.getpid()))
tag = "tsdpybuild" + run
c = docker.from_env(version="1.41", timeout=120)
ctx = tempfile.mkdtemp()
with open(os.path.join(ctx, "Dockerfile"), "w") as f:
    f.write("FROM busybox:fixture AS base\nARG MSG=default\nRUN echo \"$MSG\" > /msg\nFROM base\nCOPY hello.txt /\nCMD [\"cat\", \"/msg\", \"/hello.txt\"]\n")
with open(os.path.join(ctx, "hello.txt"), "w") as f:
    f.write("hello\n")
with open(os.path.join(ctx, ".dockerignore"), "w") as f:
    f.write("*.log\n")
with open(os.path.join(ctx, "skip.log"), "w") as f:
    f.write("x\n")

try:
    img, logs = c.images.build(path=ctx, tag=tag + ":1", buildargs={"MSG": "from py"}, labels={"via": "docker-py"}, rm=True)
    logs = list(logs)
    check(tag + ":1" in img.tags, "the image is tagged: %r" % img.tags)
    check(any(l.get("aux", {}).get("ID") == img.id for l in logs), "an aux ID line names the image")
    check(any("Successfully built" in l.get("stream", "") for l in logs), "Successfully built in the stream")
    check(img.labels.get("via") == "docker-py", "labels: %r" % img.labels)
    out = c.containers.run(tag + ":1", remove=True)
    check(out == b"from py\nhello\n", "the built image runs: %r" % out)
    ls = c.containers.run(tag + ":1", ["ls", "/"], remove=True).decode()
    check("skip.log" not in ls, ".dockerignore applied")
    img2, logs2 = c.images.build(path=ctx, tag=tag + ":1", buildargs={"MSG": "from py"}, labels={"via": "docker-py"}, rm=True)
    logs2 = list(logs2)
    check(img2.id == img.id, "a rebuild gives the same image")
    check(sum(1 for l in logs2 if "Using cache" in l.get("stream", "")) >= 3, "from the cache")
    # an out-of-context Dockerfile: docker-py puts it into the context under another name
    other = os.path.join(tempfile.mkdtemp(), "Other.Dockerfile")
    with open(other, "w") as f:
        f.write("FROM busybox:fixture\nCOPY hello.txt /other.txt\nCMD [\"cat\", \"/other.txt\"]\n")
    img3, _ = c.images.build(path=ctx, dockerfile=other, tag=tag + ":other", rm=True)
    check(c.containers.run(img3.id, remove=True) == b"hello\n", "dockerfile= outside the context")
    img4, _ = c.images.build(path=ctx, target="base", tag=tag + ":base", nocache=True, rm=True)
    check(c.containers.run(img4.id, ["cat", "/msg"], remove=True) == b"default\n", "target= and nocache")
    # a custom context as a file object (docker-py's fileobj + custom_context)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        data = b"FROM busybox:fixture\nRUN echo gz > /gz\n"
        ti = tarfile.TarInfo("Dockerfile"); ti.size = len(data)
        t.addfile(ti, io.BytesIO(data))
    buf.seek(0)
    img5, _ = c.images.build(fileobj=buf, custom_context=True, encoding="gzip", tag=tag + ":gz", rm=True)
    check(c.containers.run(img5.id, ["cat", "/gz"], remove=True) == b"gz\n", "a gzip custom context")
    try:
        failing = tempfile.mkdtemp()
        with open(os.path.join(failing, "Dockerfile"), "w") as f:
            f.write("FROM busybox:fixture\nRUN echo about to fail; exit 4\n")
        # forcerm: dockerd keeps a failed step's container otherwise (tsd never does)
        c.images.build(path=failing, rm=True, forcerm=True)
        check(False, "a failing RUN raises BuildError")
    except docker.errors.BuildError as e:
        check("returned a non-zero code: 4" in str(e), "BuildError: %s" % e)
        check(any("about to fail" in l.get("stream", "") for l in e.build_log), "its build log has the RUN's output")
    try:
        c.images.build(fileobj=io.BytesIO(b"FROM busybox:fixture\nFOO bar\n"), rm=True)
        check(False, "a bad Dockerfile raises")
    except docker.errors.APIError as e:
        check(e.status_code == 400 and "unknown instruction: FOO" in str(e), "APIError 400: %s" % e)
finally:
    for t in (":1", ":other", ":base", ":gz"):
        try:
            c.images.remove(tag + t, force=True)
        except Exception:
            pass
sys.exit(1 if fails else 0)
