from .resume import (checkpoint_problem, find_resume_checkpoint, resolve_resume,
                     use_exact_resume)
from .runner import (add_launch_args, add_nonfinite_loss_stop, build_runner, check_backbone,
                     check_checkpoints_exist, check_data_roots, enable_wandb, host_of,
                     load_config, parse_launch_args, use_amp)

__all__ = ['add_launch_args', 'add_nonfinite_loss_stop', 'build_runner', 'check_backbone',
           'check_checkpoints_exist', 'check_data_roots', 'checkpoint_problem', 'enable_wandb',
           'find_resume_checkpoint', 'host_of', 'load_config', 'parse_launch_args',
           'resolve_resume', 'use_amp', 'use_exact_resume']
