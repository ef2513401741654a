SELECT path, quarantined_to, reason, quarantined_at FROM meta.quarantine ORDER BY quarantined_at DESC, path;
