"""Checkpoints that a kill at any moment cannot leave half-written or lose."""
import contextlib
import hashlib
import os
import os.path as osp
import re
import shutil

from mmengine.dist import is_main_process
from mmengine.fileio import LocalBackend
from mmengine.hooks import CheckpointHook

from ..registry import HOOKS

# the hidden name a checkpoint is written under before it is renamed into place
TEMPORARY = re.compile(r'^\..+\.\d+\.tmp$')


def _fsync_dir(directory: str):
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some file systems cannot sync a directory; the rename still happened
        pass
    finally:
        os.close(fd)


def commit(temporary: str, path: str):
    """Flush ``temporary`` to disk and rename it to ``path``: readers see the old file or the
    whole new one, never a part (os.replace is atomic within a file system)."""
    with open(temporary, 'rb+') as f:
        os.fsync(f.fileno())
    os.replace(temporary, path)
    _fsync_dir(osp.dirname(osp.abspath(path)))


def temporary_name(path: str) -> str:
    directory, name = osp.split(path)
    return osp.join(directory, f'.{name}.{os.getpid()}.tmp')


def write_text_atomic(path: str, text: str):
    temporary = temporary_name(path)
    with open(temporary, 'w') as f:
        f.write(text)
    commit(temporary, path)


def sha256_of(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 22), b''):
            digest.update(block)
    return digest.hexdigest()


def write_checksum(path: str):
    """``path.sha256`` in ``sha256sum`` format: torch.load notices a truncated checkpoint but
    loads one with damaged tensor bytes without complaint; the checksum catches that."""
    write_text_atomic(path + '.sha256', f'{sha256_of(path)}  {osp.basename(path)}\n')


def checksum_problem(path: str):
    """Why ``path`` does not match its ``.sha256`` file, or None (also when there is none)."""
    record = path + '.sha256'
    if not osp.isfile(record):
        return None
    with open(record) as f:
        expected = f.read().split()[:1]
    actual = sha256_of(path)
    if expected != [actual]:
        return (f'its sha256 {actual[:16]}... differs from {osp.basename(record)} written '
                f'with it ({(expected or ["nothing"])[0][:16]}...): the file changed on disk')
    return None


@HOOKS.register_module()
class SafeCheckpointHook(CheckpointHook):
    """CheckpointHook whose checkpoints are written atomically, old ones removed afterwards.

    MMEngine's hook writes straight to ``epoch_N.pth`` and, with ``max_keep_ckpts``, removes
    the oldest checkpoint before writing the new one: a kill during the write leaves a
    truncated latest file and, with ``max_keep_ckpts=1``, no good checkpoint at all. Here the
    checkpoint is written to a hidden ``.epoch_N.pth.<pid>.tmp`` in the same directory,
    fsynced and renamed into place, its sha256 is written next to it (``epoch_N.pth.sha256``,
    checked by ``--resume`` under every launcher), ``last_checkpoint`` is replaced the same
    way, and only then is the oldest checkpoint removed. The ``save_best`` checkpoint is
    written the same way: MMEngine removes the previous best before writing the new one, here
    the previous best is removed after the new one is in place. Same arguments as
    CheckpointHook; remote ``out_dir`` backends keep MMEngine's behaviour.
    """

    def before_train(self, runner) -> None:
        super().before_train(runner)
        if is_main_process() and self._atomic():
            for name in sorted(os.listdir(self.out_dir)) if osp.isdir(self.out_dir) else []:
                if TEMPORARY.match(name):  # left by a run killed while writing
                    os.remove(osp.join(self.out_dir, name))
                    runner.logger.info(f'removed {name}, a checkpoint a killed run had not '
                                       f'finished writing')

    def _atomic(self) -> bool:
        return isinstance(self.file_backend, LocalBackend) and self.file_client_args is None

    def _save_best_checkpoint(self, runner, metrics) -> None:
        if not self._atomic():
            return super()._save_best_checkpoint(runner, metrics)
        with self._best_written_atomically(runner) as replaced:
            super()._save_best_checkpoint(runner, metrics)
        if is_main_process():
            for path in replaced:  # the previous best, now that the new one is complete
                if path not in self._best_paths():
                    for stale in (path, path + '.sha256'):
                        if osp.isfile(stale):
                            os.remove(stale)

    def _best_paths(self):
        return {self.best_ckpt_path} | set(getattr(self, 'best_ckpt_path_dict', {}).values())

    @contextlib.contextmanager
    def _best_written_atomically(self, runner):
        """While MMEngine saves a best checkpoint: its removal of the previous best is deferred
        (the paths are collected and yielded) and the new one goes through temporary + rename.
        """
        replaced, hook = [], self
        backend, save = self.file_backend, runner.save_checkpoint

        class DeferRemoval:
            def __getattr__(self, name):
                return getattr(backend, name)

            def remove(self, path):
                replaced.append(path)

        def save_then_commit(out_dir, filename, **kwargs):
            if not filename.startswith('best_'):  # the step checkpoint saved again after it
                return save(out_dir, filename, **kwargs)
            path = osp.join(out_dir, filename)
            temporary = temporary_name(path)
            save(out_dir, osp.basename(temporary), **kwargs)
            if is_main_process():
                commit(temporary, path)
                write_checksum(path)

        self.file_backend, runner.save_checkpoint = DeferRemoval(), save_then_commit
        try:
            yield replaced
        finally:
            hook.file_backend = backend
            del runner.save_checkpoint  # back to the Runner's own method

    def _save_checkpoint_with_step(self, runner, step, meta):
        if not self._atomic():
            return super()._save_checkpoint_with_step(runner, step, meta)
        stale = None
        if self.max_keep_ckpts > 0 and not (self.keep_ckpt_ids
                                            and self.keep_ckpt_ids[-1] == step):
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                stale = self.keep_ckpt_ids.popleft()
            self.keep_ckpt_ids.append(step)
            # recorded before saving, as MMEngine does, so the checkpoint's message hub has it
            runner.message_hub.update_info('keep_ckpt_ids', list(self.keep_ckpt_ids))

        filename = self.filename_tmpl.format(step)
        self.last_ckpt = osp.join(self.out_dir, filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        temporary = temporary_name(self.last_ckpt)
        runner.save_checkpoint(  # writes on the main process only
            self.out_dir, osp.basename(temporary), save_optimizer=self.save_optimizer,
            save_param_scheduler=self.save_param_scheduler, meta=meta, by_epoch=self.by_epoch,
            backend_args=self.backend_args, **self.args)
        if not is_main_process():
            return
        commit(temporary, self.last_ckpt)
        write_checksum(self.last_ckpt)
        write_text_atomic(osp.join(runner.work_dir, 'last_checkpoint'), self.last_ckpt)

        if stale is not None:
            path = osp.join(self.out_dir, self.filename_tmpl.format(stale))
            if osp.isfile(path):
                os.remove(path)
            elif osp.isdir(path):  # DeepSpeed-style checkpoint folders
                shutil.rmtree(path)
            if osp.isfile(path + '.sha256'):
                os.remove(path + '.sha256')
