using Bouncer.Sessions;
using Microsoft.Data.Sqlite;

namespace Bouncer.Stores.Sqlite;

internal sealed partial class SqliteDatabase
{
    /// <summary>
    /// One open connection with its pragmas applied and its statements compiled on first use; used by one
    /// caller at a time (a SqliteConnection is not thread-safe).
    /// </summary>
    internal sealed class Connection(SqliteConnection connection) : IDisposable
    {
        private readonly Dictionary<string, SqliteCommand> _commands = new(StringComparer.Ordinal);
        private readonly byte[] _key = new byte[SessionKey.Size];

        /// <summary>The open driver connection, for work the cached commands do not cover (transactions, pragmas).</summary>
        public SqliteConnection Sqlite { get; } = connection;

        /// <summary>
        /// The cached command for <paramref name="sql"/> with <paramref name="values"/> bound to its parameters
        /// <c>$p0</c>, <c>$p1</c>, ... in order (null binds SQL NULL), enlisted in <paramref name="tx"/>.
        /// </summary>
        public SqliteCommand Command(string sql, SqliteTransaction? tx, params ReadOnlySpan<object?> values)
        {
            // Reusing the command keeps its compiled statement: SQLite parses each statement once per connection.
            if (!_commands.TryGetValue(sql, out var cmd))
            {
                cmd = Sqlite.CreateCommand();
                cmd.CommandText = sql;
                _commands.Add(sql, cmd);
            }
            cmd.Transaction = tx;
            var p = cmd.Parameters;
            while (p.Count < values.Length) p.Add(new SqliteParameter { ParameterName = "$p" + p.Count });
            for (var i = 0; i < values.Length; i++) p[i].Value = values[i] ?? DBNull.Value;
            return cmd;
        }

        /// <summary>
        /// <paramref name="key"/> in this connection's own buffer, to bind as the one key of a lookup without a copy
        /// per call: the driver copies a blob when it binds it, and the connection has one caller at a time.
        /// </summary>
        public byte[] KeyBytes(in SessionKey key)
        {
            key.CopyTo(_key);
            return _key;
        }

        /// <summary>Disposes the cached commands, then closes the connection.</summary>
        public void Dispose()
        {
            foreach (var c in _commands.Values) c.Dispose();
            Sqlite.Dispose();
        }
    }
}
