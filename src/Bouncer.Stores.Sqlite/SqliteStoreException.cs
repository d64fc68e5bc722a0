namespace Bouncer.Stores.Sqlite;

/// <summary>
/// The SQLite database behind one of the SQLite stores failed (unreadable or corrupt file, disk full, lock
/// held too long). The message names the file. Broken infrastructure, never "not found".
/// </summary>
public class SqliteStoreException(string message, Exception? inner = null) : IOException(message, inner);
