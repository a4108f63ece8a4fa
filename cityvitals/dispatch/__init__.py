"""One-click dispatch (一键调度): routing, tasks and their lifecycle as commands, in the bottom layer."""
