namespace Bouncer.Stores.Sqlite;

/// <summary>
/// The SQLite database behind a <see cref="SqliteSessionStore"/> failed (unreadable or corrupt file,
/// disk full, lock held too long). The message names the file. Broken infrastructure, not "not found".
/// </summary>
public sealed class SqliteSessionStoreException(string message, Exception? inner = null) : SqliteStoreException(message, inner);
