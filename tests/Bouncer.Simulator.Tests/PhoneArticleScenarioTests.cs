namespace Bouncer.Simulator.Tests;

/// <summary>The article's scenarios at 390 x 844; one server and one browser for the class.</summary>
public sealed class PhoneArticleScenarioTests(SimulatorFixture fixture) : ArticleScenarioTests(fixture, 390, 844), IClassFixture<SimulatorFixture>;
