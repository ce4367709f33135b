from .runner import (add_launch_args, build_runner, check_checkpoints_exist, enable_wandb,
                     host_of, load_config, parse_launch_args)

__all__ = ['add_launch_args', 'build_runner', 'check_checkpoints_exist', 'enable_wandb', 'host_of',
           'load_config', 'parse_launch_args']
