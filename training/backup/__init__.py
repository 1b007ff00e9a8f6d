"""Backup and restore of the whole studio (``manage.py backup`` / ``restore``):
``dump.studio_backup`` writes one consistent archive (``archive``), and
``load.studio_restore`` loads it into an empty studio."""

from training.backup.archive import BackupError
from training.backup.dump import BackupSummary, studio_backup
from training.backup.load import RestoreSummary, studio_restore

__all__ = [
    "BackupError",
    "BackupSummary",
    "RestoreSummary",
    "studio_backup",
    "studio_restore",
]
