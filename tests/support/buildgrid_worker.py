"""A minimal BuildGrid worker for distfarm's tests (no engine worker is packaged anywhere the
tests can install from): one bot session through the Remote Workers API's Bots service, one
lease at a time.

For each lease: the Action (the payload, or its digest) and its Command and input root are
read from the CAS, the input root is laid out in a fresh directory, the Command runs there
with only its own environment, and the outputs, stdout and stderr go up to the CAS. The
ActionResult travels back in the completed lease's `result` (BuildGrid 0.4's scheduler
writes it into the action cache itself, for a zero exit). Each job is appended to --log as
it starts, one line `RUN <action hash> <argv…>`, so a test can count what really ran.

The bot's primary device advertises --property NAME=VALUE pairs: BuildGrid gives it only
the actions whose platform properties it has.

Run with the Python of BuildGrid's virtualenv (its generated protos are used):
    python buildgrid_worker.py --endpoint 127.0.0.1:PORT --bot-id ID \
        --property OSFamily=linux --log FILE
"""

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time

import grpc
from google.protobuf import any_pb2

from buildgrid._protos.build.bazel.remote.execution.v2 import remote_execution_pb2 as re
from buildgrid._protos.build.bazel.remote.execution.v2 import remote_execution_pb2_grpc as re_grpc
from buildgrid._protos.google.devtools.remoteworkers.v1test2 import bots_pb2
from buildgrid._protos.google.devtools.remoteworkers.v1test2 import bots_pb2_grpc
from buildgrid._protos.google.rpc import code_pb2

# BuildGrid long-polls UpdateBotSession for up to 80% of the call's deadline.
POLL_SECONDS = 10
# A deadline whose 80% is under BuildGrid's 3 s network timeout: CreateBotSession answers at
# once instead of waiting for work, so a test knows the session is open.
CREATE_SECONDS = 3


def digest_of(data):
    return re.Digest(hash=hashlib.sha256(data).hexdigest(), size_bytes=len(data))


class Cas:
    def __init__(self, channel, instance):
        self.stub = re_grpc.ContentAddressableStorageStub(channel)
        self.instance = instance

    def read(self, digest):
        if digest.size_bytes == 0:
            return b""
        response = self.stub.BatchReadBlobs(
            re.BatchReadBlobsRequest(instance_name=self.instance, digests=[digest]), timeout=60
        )
        blob = response.responses[0]
        if blob.status.code != code_pb2.OK:
            raise RuntimeError(f"CAS has no blob {digest.hash}: {blob.status.message}")
        return blob.data

    def message(self, digest, message):
        message.ParseFromString(self.read(digest))
        return message

    def write(self, data):
        digest = digest_of(data)
        if digest.size_bytes == 0:
            return digest
        request = re.BatchUpdateBlobsRequest(instance_name=self.instance)
        request.requests.add(digest=digest, data=data)
        response = self.stub.BatchUpdateBlobs(request, timeout=60)
        status = response.responses[0].status
        if status.code != code_pb2.OK:
            raise RuntimeError(f"CAS refused blob {digest.hash}: {status.message}")
        return digest


def lay_out(cas, directory_digest, path):
    """The input root's tree under `path`."""
    directory = cas.message(directory_digest, re.Directory())
    os.makedirs(path, exist_ok=True)
    for node in directory.files:
        target = os.path.join(path, node.name)
        with open(target, "wb") as f:
            f.write(cas.read(node.digest))
        if node.is_executable:
            os.chmod(target, 0o755)
    for node in directory.directories:
        lay_out(cas, node.digest, os.path.join(path, node.name))
    for node in directory.symlinks:
        os.symlink(node.target, os.path.join(path, node.name))


def run_action(cas, action_digest, action, log, delay):
    command = cas.message(action.command_digest, re.Command())
    root = tempfile.mkdtemp(prefix="distfarm-bg-job-")
    try:
        lay_out(cas, action.input_root_digest, root)
        outputs = list(command.output_paths) or list(command.output_files)
        cwd = os.path.join(root, command.working_directory)
        for output in outputs:
            os.makedirs(os.path.dirname(os.path.join(cwd, output)) or cwd, exist_ok=True)
        env = {v.name: v.value for v in command.environment_variables}
        with open(log, "a") as f:
            # One line per job: a pump-mode Command's script has newlines of its own.
            words = " ".join(a.replace("\n", "\\n") for a in command.arguments)
            f.write(f"RUN {action_digest.hash} {words}\n")
        time.sleep(delay)
        timeout = action.timeout.seconds or 300
        done = subprocess.run(
            list(command.arguments), cwd=cwd, env=env, capture_output=True, timeout=timeout
        )
        result = re.ActionResult(exit_code=done.returncode)
        result.stdout_digest.CopyFrom(cas.write(done.stdout))
        result.stderr_digest.CopyFrom(cas.write(done.stderr))
        for output in outputs:
            path = os.path.join(cwd, output)
            if os.path.isfile(path):
                with open(path, "rb") as f:
                    data = f.read()
                result.output_files.add(
                    path=output, digest=cas.write(data), is_executable=os.access(path, os.X_OK)
                )
        return result
    finally:
        shutil.rmtree(root, ignore_errors=True)


def action_of(cas, lease):
    """The lease's Action: BuildGrid sends the Action itself, or its digest."""
    action = re.Action()
    if lease.payload.Is(re.Action.DESCRIPTOR):
        lease.payload.Unpack(action)
        return digest_of(action.SerializeToString()), action
    digest = re.Digest()
    lease.payload.Unpack(digest)
    return digest, cas.message(digest, action)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", required=True, help="HOST:PORT of BuildGrid's Bots service")
    parser.add_argument("--instance", default="", help="the instance name")
    parser.add_argument("--bot-id", required=True)
    parser.add_argument("--property", action="append", default=[], help="NAME=VALUE, repeatable")
    parser.add_argument("--log", required=True, help="one line per job run is appended here")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds to wait in each job")
    args = parser.parse_args()

    channel = grpc.insecure_channel(args.endpoint)
    bots = bots_pb2_grpc.BotsStub(channel)
    cas = Cas(channel, args.instance)

    session = bots_pb2.BotSession(bot_id=args.bot_id, status=bots_pb2.OK)
    device = session.worker.devices.add(handle=args.bot_id)
    for prop in args.property:
        name, _, value = prop.partition("=")
        device.properties.add(key=name, value=value)

    session = bots.CreateBotSession(
        bots_pb2.CreateBotSessionRequest(parent=args.instance, bot_session=session),
        timeout=CREATE_SECONDS,
    )
    print(f"bot session {session.name}", flush=True)
    while True:
        for lease in session.leases:
            if lease.state not in (bots_pb2.PENDING, bots_pb2.ACTIVE):
                continue
            try:
                action_digest, action = action_of(cas, lease)
                result = run_action(cas, action_digest, action, args.log, args.delay)
                lease.result.Pack(result)
                lease.status.code = code_pb2.OK
            except Exception as e:  # the job failed here, not the compile: say so
                print(f"lease {lease.id}: {e}", file=sys.stderr, flush=True)
                lease.status.code = code_pb2.INTERNAL
                lease.status.message = str(e)
            lease.state = bots_pb2.COMPLETED
        try:
            session = bots.UpdateBotSession(
                bots_pb2.UpdateBotSessionRequest(name=session.name, bot_session=session),
                timeout=POLL_SECONDS,
            )
        except grpc.RpcError as e:
            if e.code() != grpc.StatusCode.DEADLINE_EXCEEDED:
                raise
            # A long poll that ended on our side: the same session asks again.


if __name__ == "__main__":
    try:
        main()
    except grpc.RpcError as e:
        # The engine went away (a test stopped it): nothing left to work for.
        print(f"buildgrid_worker: {e.code()}: {e.details()}", file=sys.stderr, flush=True)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(0)
