DELETE FROM meta.quarantine WHERE path = $path;
