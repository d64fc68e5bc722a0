namespace Bouncer.Simulator.Tests;

/// <summary>The article's scenarios at 1366 x 768; one server and one browser for the class.</summary>
public sealed class DesktopArticleScenarioTests(SimulatorFixture fixture) : ArticleScenarioTests(fixture, 1366, 768), IClassFixture<SimulatorFixture>;
