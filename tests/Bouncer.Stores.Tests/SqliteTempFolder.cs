using Microsoft.Data.Sqlite;

namespace Bouncer.Stores.Tests;

/// <summary>
/// A private temp folder for one SQLite test class: fresh database paths in it, the disposables opened on
/// them, and raw reads that bypass the stores. Disposing closes everything and deletes the folder.
/// </summary>
internal sealed class SqliteTempFolder : IDisposable
{
    private readonly List<IDisposable> _owned = [];
    private int _files;

    public string Folder { get; } = Directory.CreateTempSubdirectory("bouncer-sqlite-").FullName;

    public string NewPath() => Path.Combine(Folder, $"bouncer{Interlocked.Increment(ref _files)}.db");

    /// <summary>Keeps <paramref name="item"/> to dispose with the folder; returns it.</summary>
    public T Own<T>(T item) where T : IDisposable
    {
        lock (_owned) _owned.Add(item);
        return item;
    }

    public static object? Scalar(string path, string sql)
    {
        using var connection = new SqliteConnection($"Data Source={path};Pooling=False");
        connection.Open();
        using var cmd = connection.CreateCommand();
        cmd.CommandText = sql;
        return cmd.ExecuteScalar();
    }

    /// <summary>Every byte of the database file and its WAL: what an attacker with the disk would read.</summary>
    public byte[] ReadDisk() => Directory.GetFiles(Folder).SelectMany(File.ReadAllBytes).ToArray();

    public void Dispose()
    {
        lock (_owned)
        {
            foreach (var item in _owned) item.Dispose();
            _owned.Clear();
        }
        Directory.Delete(Folder, recursive: true);
    }
}
