using System.CommandLine;

namespace OpenQwen2VL.Cli.Commands;

/// <summary>
/// One `oqvl` sub-command. Program discovers every implementation by reflection, so adding a command
/// is adding one file.
/// </summary>
public interface ICliCommand
{
    Command Build();
}
