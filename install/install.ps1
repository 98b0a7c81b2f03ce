# Open ACE agent installer for Windows 10+ (PowerShell 5.1 and 7): downloads the prebuilt agent
# from the server, verifies it against SHA256SUMS, registers the machine, installs the AI CLI and
# a Scheduled Task. The Windows twin of install.sh: keep the two step-for-step parallel.
#   .\install.ps1 -Server http://<server>:5000 -Token <token>
# Piped (`Invoke-WebRequest ... | Invoke-Expression`) nothing can be passed as arguments, so every
# parameter also comes from the environment: OPENACE_SERVER_URL, OPENACE_REGISTRATION_TOKEN,
# OPENACE_NAME, OPENACE_INSTALL_CLI, OPENACE_DIR, OPENACE_NO_SERVICE=1.
# Re-running upgrades in place and keeps the machine id.
param(
  [string]$Server = $(if ($env:OPENACE_SERVER_URL) { $env:OPENACE_SERVER_URL } else { $env:OPENACE_SERVER }),
  [string]$Token = $(if ($env:OPENACE_REGISTRATION_TOKEN) { $env:OPENACE_REGISTRATION_TOKEN } else { $env:OPENACE_TOKEN }),
  [string]$Name = $env:OPENACE_NAME,
  [string]$InstallCli = $(if ($env:OPENACE_INSTALL_CLI) { $env:OPENACE_INSTALL_CLI } else { 'qwen-code-cli' }),
  [string]$Dir = $env:OPENACE_DIR,
  [switch]$NoService = [bool]$env:OPENACE_NO_SERVICE,
  [switch]$Help
)

# Everything lives in functions and runs from the last line, so a download cut short runs nothing,
# and `exit` is only used when running as a file (under Invoke-Expression it would close the window).

$OpenAceSteps = 8
$OpenAceTaskName = 'Open ACE Agent'
$OpenAceOnlineTimeoutSeconds = $(if ($env:OPENACE_ONLINE_TIMEOUT) { [int]$env:OPENACE_ONLINE_TIMEOUT } else { 60 })
$OpenAceFilesPath = '/api/remote/agent/files'
$OpenAceStatusPath = '/api/remote/agent/status'
$OpenAceRunningAsFile = [bool]$PSCommandPath

function Show-Usage {
  @'
Install the Open ACE remote agent on this machine.

Usage: install.ps1 -Server URL -Token TOKEN [options]

  -Server URL         Open ACE server address, e.g. http://ace.example.com:5000   (required)
  -Token TOKEN        registration token from an administrator                      (required)
  -Name NAME          machine display name (default: this computer's name)
  -InstallCli TOOL    qwen-code-cli | claude-code | openclaw | none (default: qwen-code-cli)
  -Dir DIR            install directory (default: ~\.open-ace-agent)
  -NoService          do not install or start a Scheduled Task
  -Help               show this help

Every option can also come from the environment: OPENACE_SERVER_URL, OPENACE_REGISTRATION_TOKEN,
OPENACE_NAME, OPENACE_INSTALL_CLI, OPENACE_DIR, OPENACE_NO_SERVICE=1.
Re-running upgrades the agent in place and keeps the machine's identity.
'@ | Write-Host
}

function Write-Step([int]$N, [string]$Text) { Write-Host "[$N/$OpenAceSteps] $Text" }
function Write-Info([string]$Text) { Write-Host "      $Text" }
function Write-Warn([string]$Text) { Write-Warning $Text }
function Stop-Install([string]$Text) { throw [System.InvalidOperationException]::new($Text) }

function Test-Arguments {
  if (-not $Script:Server) { Stop-Install '-Server is required, e.g. -Server http://ace.example.com:5000 (see -Help)' }
  if ($Script:Server -notmatch '^https?://') { Stop-Install "-Server must start with http:// or https:// (got: $Script:Server)" }
  $Script:Server = $Script:Server.TrimEnd('/')
  if (-not $Script:Token) { Stop-Install '-Token is required: ask an administrator for a registration token (see -Help)' }
  if (@('qwen-code-cli', 'claude-code', 'openclaw', 'none') -notcontains $Script:InstallCli) {
    Stop-Install "-InstallCli must be one of qwen-code-cli, claude-code, openclaw, none (got: $Script:InstallCli)"
  }
  if (-not $Script:Name) { $Script:Name = $env:COMPUTERNAME }
  if (-not $Script:Dir) { $Script:Dir = Join-Path $HOME '.open-ace-agent' }
  $Script:Dir = [System.IO.Path]::GetFullPath($Script:Dir)
  $Script:Agent = Join-Path $Script:Dir 'open-ace-agent.exe'
  $Script:Config = Join-Path $Script:Dir 'config.json'
}

# --- HTTP, with the server's own error message on failure ------------------------------------

# Downloads Url to OutFile, with an agent token when given; returns the HTTP status and stops
# the install when the server cannot be reached at all.
function Invoke-Fetch([string]$Url, [string]$OutFile, [string]$Bearer = '') {
  $headers = @{}
  if ($Bearer) { $headers['Authorization'] = "Bearer $Bearer" }
  try {
    Invoke-WebRequest -UseBasicParsing -Uri $Url -OutFile $OutFile -Headers $headers -TimeoutSec 300
    return 200
  } catch {
    $response = $_.Exception.Response
    if (-not $response) {
      Stop-Install "cannot reach the Open ACE server at $Script:Server ($($_.Exception.Message)). Check the -Server address, that the server is running, and that this machine can reach it (firewall, proxy)."
    }
    $Script:LastServerMessage = Get-ServerMessage $_.ErrorDetails.Message
    return [int]$response.StatusCode
  }
}

# The "message" of a JSON error body, or the body itself when it is short text.
function Get-ServerMessage([string]$Body) {
  if (-not $Body) { return '' }
  try { return ($Body | ConvertFrom-Json).error.message } catch { return $Body.Substring(0, [Math]::Min(300, $Body.Length)) }
}

# --- Steps -----------------------------------------------------------------------------------

function Get-Platform {
  Write-Step 1 'Detecting platform'
  if (-not [Environment]::Is64BitOperatingSystem) { Stop-Install 'a 64-bit Windows is required; prebuilt agents exist for x64' }
  $arch = if ($env:PROCESSOR_ARCHITEW6432) { $env:PROCESSOR_ARCHITEW6432 } else { $env:PROCESSOR_ARCHITECTURE }
  # Windows on ARM runs x64 programs under emulation; there is no native arm64 build.
  if ($arch -eq 'ARM64') { Write-Info 'ARM64 Windows: using the x64 build under emulation' }
  $Script:Binary = 'open-ace-agent-windows-x64.exe'
  Write-Info "windows-x64; installing into $Script:Dir"
}

function Get-AgentBinary {
  Write-Step 2 "Downloading $Script:Binary from $Script:Server"
  New-Item -ItemType Directory -Force -Path $Script:Dir | Out-Null
  $Script:Part = Join-Path $Script:Dir ".$Script:Binary.part"
  $status = Invoke-Fetch "$Script:Server$OpenAceFilesPath/$Script:Binary" $Script:Part
  if ($status -eq 404) {
    Remove-Item -Force -ErrorAction SilentlyContinue $Script:Part
    if ($Script:LastServerMessage -like '*build:agent*') { Stop-Install "the server has no $Script:Binary to offer: $Script:LastServerMessage" }
    Stop-Install "$Script:Server does not serve the agent (HTTP 404). Is -Server the Open ACE server's address? Without the install route, follow the manual install in the README."
  }
  if ($status -ne 200) {
    Remove-Item -Force -ErrorAction SilentlyContinue $Script:Part
    Stop-Install "downloading $Script:Binary failed: HTTP $status $Script:LastServerMessage"
  }
  Write-Info "$((Get-Item $Script:Part).Length) bytes"
}

function Test-AgentChecksum {
  Write-Step 3 'Verifying SHA-256 checksum'
  $sums = Join-Path $Script:Dir '.SHA256SUMS'
  $status = Invoke-Fetch "$Script:Server$OpenAceFilesPath/SHA256SUMS" $sums
  if ($status -ne 200) { Stop-Install "cannot get SHA256SUMS from the server (HTTP $status): $Script:LastServerMessage" }
  $expected = $null
  foreach ($line in Get-Content $sums) {
    $fields = $line -split '\s+'
    if ($fields.Count -ge 2 -and ($fields[1] -eq $Script:Binary -or $fields[1] -eq "*$Script:Binary")) { $expected = $fields[0].ToLower(); break }
  }
  Remove-Item -Force $sums
  if (-not $expected) { Stop-Install "SHA256SUMS on the server lists no checksum for $Script:Binary; rebuild the agents on the server (bun run build:agent)" }
  $actual = (Get-FileHash -Algorithm SHA256 $Script:Part).Hash.ToLower()
  if ($actual -ne $expected) {
    Remove-Item -Force $Script:Part
    Stop-Install "checksum mismatch for ${Script:Binary}: expected $expected, got $actual. The download is corrupt or was altered; nothing was installed. Try again, and if it persists ask the server's administrator to rebuild the agents."
  }
  # A running .exe cannot be overwritten but can be renamed: move the old one aside first.
  if (Test-Path $Script:Agent) {
    Move-Item -Force $Script:Agent "$Script:Agent.old"
  }
  Move-Item -Force $Script:Part $Script:Agent
  Write-Info "OK ($actual)"
}

function Read-AgentConfig {
  if (-not (Test-Path $Script:Config)) { return [pscustomobject]@{} }
  $text = Get-Content -Raw $Script:Config
  if (-not $text -or -not $text.Trim()) { return [pscustomobject]@{} }
  return $text | ConvertFrom-Json
}

# Sets string fields of config.json, keeping every other setting (the agent's own, its token,
# the machine id); UTF-8 without a BOM, which PowerShell 5.1's Set-Content would add.
function Set-ConfigFields([hashtable]$Fields) {
  $config = Read-AgentConfig
  foreach ($key in $Fields.Keys) { $config | Add-Member -Force -NotePropertyName $key -NotePropertyValue $Fields[$key] }
  [System.IO.File]::WriteAllText($Script:Config, ($config | ConvertTo-Json -Depth 10), [System.Text.UTF8Encoding]::new($false))
  Protect-Config
}

# The Windows counterpart of mode 600: only the current user, SYSTEM and Administrators (by SID,
# since group names are translated on non-English Windows).
function Protect-Config {
  $me = [Security.Principal.WindowsIdentity]::GetCurrent().User.Value
  & icacls.exe $Script:Config /inheritance:r /grant:r "*${me}:F" '*S-1-5-18:F' '*S-1-5-32-544:F' | Out-Null
  if ($LASTEXITCODE -ne 0) { Write-Warn "could not restrict access to $Script:Config (icacls failed)" }
}

function Write-AgentConfig {
  Write-Step 4 'Writing configuration'
  Set-ConfigFields @{ server_url = $Script:Server; machine_name = $Script:Name; cli_tool = $Script:InstallCli }
  Write-Info "$Script:Config (readable by you only)"
}

function Register-Machine {
  Write-Step 5 'Registering this machine'
  $config = Read-AgentConfig
  if ($config.agent_token) {
    $status = Invoke-Fetch "$Script:Server$OpenAceStatusPath" (Join-Path $Script:Dir '.status.json') $config.agent_token
    Remove-Item -Force -ErrorAction SilentlyContinue (Join-Path $Script:Dir '.status.json')
    if ($status -eq 200) {
      Write-Info "already registered as machine $($config.machine_id); keeping it (upgrade in place, token not used)"
      return
    }
    if ($status -eq 401) { Write-Info "the server no longer accepts this machine's agent token ($Script:LastServerMessage); registering again as machine $($config.machine_id)" }
    else { Write-Info "could not check the existing registration (HTTP $status); registering again as machine $($config.machine_id)" }
  }
  # Native stderr must not become a terminating error on PowerShell 5.1.
  $ErrorActionPreference = 'Continue'
  $out = (& $Script:Agent register --dir $Script:Dir --server $Script:Server --token $Script:Token --name $Script:Name 2>&1 | ForEach-Object { "$_" } | Out-String)
  $code = $LASTEXITCODE
  $ErrorActionPreference = 'Stop'
  $out.TrimEnd() -split "`n" | ForEach-Object { Write-Info $_.TrimEnd() }
  if ($code -ne 0) {
    if ($out -like '*expired or already used*') { Stop-Install 'the registration token was refused: it is wrong, expired, or was already used (each token works once). Ask an administrator for a new one.' }
    if ($out -like '*already registered*') { Stop-Install 'this machine id is registered on the server and this directory does not hold its agent token. Ask an administrator to deregister the machine, then run the installer again.' }
    if ($out -like '*Cannot reach*') { Stop-Install "cannot reach the Open ACE server at $Script:Server. Check the -Server address, that the server is running, and that this machine can reach it (firewall, proxy)." }
    if ($out -like '*No route*' -or $out -like '*HTTP 404*') { Stop-Install "$Script:Server does not offer agent registration (HTTP 404). Is -Server the Open ACE server's address?" }
    Stop-Install 'registration failed (see the message above)'
  }
  Protect-Config
}

function Install-AiCli {
  Write-Step 6 "Installing AI CLI: $Script:InstallCli"
  # Parity with install.sh's session sandbox: Windows has none for CLIs (see the README).
  Write-Warn 'Windows has no session sandbox: CLIs run as the agent''s user and can read its files (isolation: none). Share this machine only among users who may see each other''s work.'
  $package = switch ($Script:InstallCli) {
    'none' { Write-Info 'skipped (-InstallCli none)'; return }
    'qwen-code-cli' { '@qwen-code/qwen-code@latest' }
    'claude-code' { '@anthropic-ai/claude-code@latest' }
    'openclaw' { 'openclaw@latest' }
  }
  # npm.cmd, not npm.ps1: the script shim is blocked under the default execution policy.
  if (-not (Get-Command node -ErrorAction SilentlyContinue) -or -not (Get-Command npm.cmd -ErrorAction SilentlyContinue)) {
    Write-Warn "Node.js/npm not found. Install Node.js 20+, then run: npm install -g $package"
    return
  }
  # Native stderr (npm's warnings) must not become terminating errors on PowerShell 5.1.
  $ErrorActionPreference = 'Continue'
  $log = & npm.cmd install -g $package 2>&1 | ForEach-Object { "$_" }
  if ($LASTEXITCODE -eq 0) { Write-Info "installed $package" }
  else {
    $log | Select-Object -Last 5 | Write-Host
    Write-Warn "npm could not install $package (above). Install it yourself: npm install -g $package (from an administrator prompt if needed)"
  }
}

function Show-ManualStart {
  Write-Info 'Start the agent yourself with:'
  Write-Info "  Start-Process -WindowStyle Hidden '$Script:Agent' -ArgumentList 'run','--dir','$Script:Dir'"
}

function Test-Administrator {
  $principal = [Security.Principal.WindowsPrincipal][Security.Principal.WindowsIdentity]::GetCurrent()
  return $principal.IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)
}

function Install-AgentService {
  Write-Step 7 'Installing service'
  $Script:Service = 'none'
  if ($Script:NoService) {
    Write-Info 'skipped (-NoService)'
    Show-ManualStart
    return
  }
  if (-not (Get-Command Register-ScheduledTask -ErrorAction SilentlyContinue)) {
    Write-Warn 'the ScheduledTasks module is not available, so no service was installed'
    Show-ManualStart
    return
  }
  # A Bun binary is not a Windows service executable: a hidden PowerShell loop restarts the agent
  # whenever it exits, and the task itself is retried if it fails to launch.
  $quotedAgent = $Script:Agent.Replace("'", "''")
  $quotedDir = $Script:Dir.Replace("'", "''")
  $loop = "while (`$true) { & '$quotedAgent' run --dir '$quotedDir' *>> '$quotedDir\service.log'; Start-Sleep -Seconds 5 }"
  $action = New-ScheduledTaskAction -Execute 'powershell.exe' -Argument "-NoProfile -NonInteractive -WindowStyle Hidden -ExecutionPolicy Bypass -Command `"$loop`"" -WorkingDirectory $Script:Dir
  $settings = New-ScheduledTaskSettingsSet -RestartCount 999 -RestartInterval (New-TimeSpan -Minutes 1) -ExecutionTimeLimit ([TimeSpan]::Zero) -AllowStartIfOnBatteries -DontStopIfGoingOnBatteries -StartWhenAvailable -MultipleInstances IgnoreNew
  $user = [Security.Principal.WindowsIdentity]::GetCurrent().Name
  if (Test-Administrator) {
    # At startup, as this user, without a stored password (S4U needs an elevated prompt).
    $trigger = New-ScheduledTaskTrigger -AtStartup
    $principal = New-ScheduledTaskPrincipal -UserId $user -LogonType S4U -RunLevel Limited
  } else {
    $trigger = New-ScheduledTaskTrigger -AtLogOn -User $user
    $principal = New-ScheduledTaskPrincipal -UserId $user -LogonType Interactive -RunLevel Limited
    Write-Info 'not elevated: the agent starts when you log on (run from an administrator prompt to start it at boot)'
  }
  Stop-AgentTask
  Register-ScheduledTask -TaskName $OpenAceTaskName -Action $action -Trigger $trigger -Settings $settings -Principal $principal -Force | Out-Null
  $Script:Service = 'task'
  Write-Info "Scheduled Task '$OpenAceTaskName'"
}

# Stops the task and any agent still running from this directory (an upgrade replaces the binary).
function Stop-AgentTask {
  if (Get-ScheduledTask -TaskName $OpenAceTaskName -ErrorAction SilentlyContinue) {
    Stop-ScheduledTask -TaskName $OpenAceTaskName -ErrorAction SilentlyContinue
  }
  Get-Process -Name 'open-ace-agent*' -ErrorAction SilentlyContinue |
    Where-Object { $_.Path -and $_.Path.StartsWith($Script:Dir, [StringComparison]::OrdinalIgnoreCase) } |
    Stop-Process -Force -ErrorAction SilentlyContinue
  Remove-Item -Force -ErrorAction SilentlyContinue "$Script:Agent.old"
}

function Start-AgentAndWait {
  Write-Step 8 'Starting the agent and waiting for the server to report it online'
  if ($Script:Service -eq 'none') {
    Write-Info 'skipped: no service was installed'
    return
  }
  Start-ScheduledTask -TaskName $OpenAceTaskName
  $config = Read-AgentConfig
  $statusFile = Join-Path $Script:Dir '.status.json'
  $deadline = (Get-Date).AddSeconds($OpenAceOnlineTimeoutSeconds)
  while ((Get-Date) -lt $deadline) {
    $status = Invoke-Fetch "$Script:Server$OpenAceStatusPath" $statusFile $config.agent_token
    if ($status -eq 200 -and (Get-Content -Raw $statusFile | ConvertFrom-Json).status -eq 'online') {
      Remove-Item -Force -ErrorAction SilentlyContinue $statusFile
      Write-Info "the server reports machine $($config.machine_id) online"
      return
    }
    Start-Sleep -Seconds 1
  }
  Stop-Install "the server does not report the agent online after ${OpenAceOnlineTimeoutSeconds}s ($Script:LastServerMessage). See its log: Get-Content -Tail 50 '$Script:Dir\agent-error.log'"
}

function Install-OpenAceAgent {
  $ErrorActionPreference = 'Stop'
  # Invoke-WebRequest's progress bar makes large downloads many times slower on PowerShell 5.1.
  $ProgressPreference = 'SilentlyContinue'
  # PowerShell 5.1 does not offer TLS 1.2 by default.
  [Net.ServicePointManager]::SecurityProtocol = [Net.ServicePointManager]::SecurityProtocol -bor [Net.SecurityProtocolType]::Tls12
  if ($Script:Help) { Show-Usage; return }
  try {
    Test-Arguments
    Get-Platform
    Get-AgentBinary
    Test-AgentChecksum
    Write-AgentConfig
    Register-Machine
    Install-AiCli
    Install-AgentService
    Start-AgentAndWait
    Write-Host "`nOpen ACE agent installed in $Script:Dir as `"$Script:Name`"."
  } catch {
    Write-Host "error: $($_.Exception.Message)" -ForegroundColor Red
    $Script:OpenAceExitCode = 1
  }
}

$OpenAceExitCode = 0
Install-OpenAceAgent
# Piped into Invoke-Expression the parameters live on in the caller's session: drop the token.
Remove-Variable -Name Token -ErrorAction SilentlyContinue
if ($OpenAceRunningAsFile) { exit $OpenAceExitCode }
