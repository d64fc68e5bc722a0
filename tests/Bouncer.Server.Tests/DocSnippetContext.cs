using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Bouncer.Server.Tests.DocSnippets;

/// <summary>
/// What a doc snippet may use without declaring it: the names a reader has in scope where the snippet goes (the app's
/// <c>builder</c>, <c>services</c>, <c>app</c>, <c>args</c>, a <c>ct</c>, a Postgres <c>dataSource</c>). Each snippet
/// compiles as a method of a class deriving from this one (see the project file); one that declares a name itself
/// hides the field. The snippets are compiled, not run (ReadmeSnippetTests runs the README app).
/// </summary>
#pragma warning disable IDE1006, SA1306 // lower-case on purpose: these stand for the snippets' local variables
internal abstract class DocSnippetContext
{
    protected string[] args = [];
    protected WebApplicationBuilder builder = null!;
    protected IServiceCollection services = null!;
    protected WebApplication app = null!;
    protected CancellationToken ct = CancellationToken.None;
    protected NpgsqlDataSource dataSource = null!;
}
