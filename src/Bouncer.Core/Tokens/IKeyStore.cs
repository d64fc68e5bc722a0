namespace Bouncer.Tokens;

/// <summary>
/// Persists a <see cref="KeyRing"/>'s private JWK set as one string. The ring owns policy (rotation, retirement);
/// a store only stores. The string holds secret key material: a store must keep it from other users and must never
/// log it.
/// </summary>
public interface IKeyStore
{
    /// <summary>The last saved string, or null when nothing was ever saved. Errors are infrastructure faults and throw.</summary>
    ValueTask<string?> LoadAsync(CancellationToken cancellationToken);

    /// <summary>Replaces the stored string atomically: a concurrent or later load sees the old or the new string, never a mix.</summary>
    ValueTask SaveAsync(string privateJwkSet, CancellationToken cancellationToken);

    /// <summary>
    /// Saves only while the stored string still equals <paramref name="expected"/> (null: nothing stored yet); false
    /// when another writer changed it meanwhile. A store shared by several instances must make this atomic; the default
    /// compares and saves in two steps, which is right only for a store one process owns (a file, memory).
    /// </summary>
    async ValueTask<bool> ReplaceAsync(string? expected, string privateJwkSet, CancellationToken cancellationToken)
    {
        if (await LoadAsync(cancellationToken).ConfigureAwait(false) != expected) return false;
        await SaveAsync(privateJwkSet, cancellationToken).ConfigureAwait(false);
        return true;
    }
}

/// <summary>
/// An <see cref="IKeyStore"/> over one file, created with mode 0600 on Unix and replaced atomically (write a
/// temporary file in the same folder, then rename over the old one).
/// </summary>
public sealed class FileKeyStore(string path) : IKeyStore
{
    /// <summary>The file's path.</summary>
    public string Path { get; } = System.IO.Path.GetFullPath(path ?? throw new ArgumentNullException(nameof(path)));

    /// <inheritdoc/>
    public async ValueTask<string?> LoadAsync(CancellationToken cancellationToken)
    {
        try
        {
            return await File.ReadAllTextAsync(Path, cancellationToken).ConfigureAwait(false);
        }
        catch (FileNotFoundException)
        {
            return null;
        }
    }

    /// <inheritdoc/>
    public async ValueTask SaveAsync(string privateJwkSet, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(privateJwkSet);
        string temporary = $"{Path}.{Guid.NewGuid():N}.tmp";
        try
        {
            await WritePrivateFileAsync(temporary, privateJwkSet, cancellationToken).ConfigureAwait(false);
            File.Move(temporary, Path, overwrite: true);
        }
        finally
        {
            if (File.Exists(temporary)) File.Delete(temporary);
        }
    }

    /// <summary>Writes a new file readable only by its owner on Unix (mode 0600 from creation, no window where it is wider).</summary>
    public static async Task WritePrivateFileAsync(string path, string contents, CancellationToken cancellationToken)
    {
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        await using var stream = new FileStream(path, options);
        await using var writer = new StreamWriter(stream);
        await writer.WriteAsync(contents.AsMemory(), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Names the store by its path, never its contents.</summary>
    public override string ToString() => $"FileKeyStore({Path})";
}
