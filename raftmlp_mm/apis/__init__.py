from .runner import (add_launch_args, add_nonfinite_loss_stop, build_runner, check_backbone,
                     check_checkpoints_exist, check_data_roots, enable_wandb, host_of,
                     load_config, parse_launch_args, use_amp)

__all__ = ['add_launch_args', 'add_nonfinite_loss_stop', 'build_runner', 'check_backbone',
           'check_checkpoints_exist', 'check_data_roots', 'enable_wandb', 'host_of', 'load_config',
           'parse_launch_args', 'use_amp']
