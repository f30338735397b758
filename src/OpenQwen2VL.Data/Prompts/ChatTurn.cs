namespace OpenQwen2VL.Data.Prompts;

public enum ChatRole { System, User, Assistant }

/// <summary>One message of a conversation; user text may hold `&lt;image&gt;` placeholders.</summary>
public sealed record ChatTurn(ChatRole Role, string Text);
