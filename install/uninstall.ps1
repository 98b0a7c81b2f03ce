# Open ACE agent uninstaller for Windows 10+ (PowerShell 5.1 and 7): stops and removes the
# Scheduled Task, tells the server to deregister this machine (when it can be reached), and
# deletes the install directory. The Windows twin of uninstall.sh: keep the two parallel.
#   .\uninstall.ps1 [-Dir DIR] [-Yes]
# Piped into Invoke-Expression, parameters come from OPENACE_DIR and OPENACE_YES=1.
param(
  [string]$Dir = $env:OPENACE_DIR,
  [switch]$Yes = [bool]$env:OPENACE_YES,
  [switch]$Help
)

$OpenAceSteps = 3
$OpenAceTaskName = 'Open ACE Agent'
$OpenAceDeregisterPath = '/api/remote/agent/deregister'
$OpenAceRunningAsFile = [bool]$PSCommandPath

function Show-Usage {
  @'
Remove the Open ACE remote agent from this machine.

Usage: uninstall.ps1 [-Dir DIR] [-Yes]

  -Dir DIR   install directory (default: ~\.open-ace-agent)
  -Yes       do not ask for confirmation
  -Help      show this help

The AI CLI installed with npm is left in place (other tools may use it).
'@ | Write-Host
}

function Write-Step([int]$N, [string]$Text) { Write-Host "[$N/$OpenAceSteps] $Text" }
function Write-Info([string]$Text) { Write-Host "      $Text" }
function Write-Warn([string]$Text) { Write-Warning $Text }
function Stop-Uninstall([string]$Text) { throw [System.InvalidOperationException]::new($Text) }

function Confirm-Uninstall {
  if (-not $Script:Dir) { $Script:Dir = Join-Path $HOME '.open-ace-agent' }
  $Script:Dir = [System.IO.Path]::GetFullPath($Script:Dir).TrimEnd('\')
  $Script:Agent = Join-Path $Script:Dir 'open-ace-agent.exe'
  $Script:Config = Join-Path $Script:Dir 'config.json'
  # Refuse to delete anything that is not an agent install, whatever -Dir says.
  if (-not (Test-Path $Script:Agent) -and -not (Test-Path $Script:Config)) {
    Stop-Uninstall "$Script:Dir does not contain an Open ACE agent (no open-ace-agent.exe or config.json); nothing to remove"
  }
  if ($Script:Yes) { return }
  $answer = Read-Host "Remove the Open ACE agent in $Script:Dir, its service and its registration? [y/N]"
  if (@('y', 'yes') -notcontains $answer.Trim().ToLower()) { Stop-Uninstall 'cancelled; nothing was changed' }
}

function Remove-AgentService {
  Write-Step 1 'Stopping and removing the service'
  $task = Get-ScheduledTask -TaskName $OpenAceTaskName -ErrorAction SilentlyContinue
  if ($task) {
    Stop-ScheduledTask -TaskName $OpenAceTaskName -ErrorAction SilentlyContinue
    Unregister-ScheduledTask -TaskName $OpenAceTaskName -Confirm:$false
  }
  # The task's restart loop and the agent it started, found by their path in this directory.
  Get-Process -Name 'open-ace-agent*' -ErrorAction SilentlyContinue |
    Where-Object { $_.Path -and $_.Path.StartsWith($Script:Dir, [StringComparison]::OrdinalIgnoreCase) } |
    Stop-Process -Force -ErrorAction SilentlyContinue
  if ($task) { Write-Info "removed Scheduled Task '$OpenAceTaskName'" } else { Write-Info 'no service installed' }
}

function Unregister-Machine {
  Write-Step 2 'Deregistering this machine from the server'
  $config = $null
  try { $config = Get-Content -Raw $Script:Config | ConvertFrom-Json } catch { $config = $null }
  if (-not $config -or -not $config.server_url -or -not $config.agent_token) {
    Write-Info "not registered (no server_url/agent_token in $Script:Config); skipped"
    return
  }
  $server = ([string]$config.server_url).TrimEnd('/')
  try {
    Invoke-WebRequest -UseBasicParsing -Method Post -Uri "$server$OpenAceDeregisterPath" -Headers @{ Authorization = "Bearer $($config.agent_token)" } -TimeoutSec 10 | Out-Null
    Write-Info "machine $($config.machine_id) deregistered from $server"
  } catch {
    $response = $_.Exception.Response
    if ($response -and [int]$response.StatusCode -eq 401) { Write-Info 'the server no longer knows this agent (already deregistered or revoked)' }
    elseif ($response) { Write-Warn "the server answered HTTP $([int]$response.StatusCode); ask an administrator to delete machine $($config.machine_id)" }
    else { Write-Warn "cannot reach $server ($($_.Exception.Message)); ask an administrator to delete machine $($config.machine_id)" }
  }
}

function Remove-AgentFiles {
  Write-Step 3 "Removing $Script:Dir"
  Remove-Item -Recurse -Force $Script:Dir
  Write-Info 'done'
}

function Uninstall-OpenAceAgent {
  $ErrorActionPreference = 'Stop'
  $ProgressPreference = 'SilentlyContinue'
  [Net.ServicePointManager]::SecurityProtocol = [Net.ServicePointManager]::SecurityProtocol -bor [Net.SecurityProtocolType]::Tls12
  if ($Script:Help) { Show-Usage; return }
  try {
    Confirm-Uninstall
    Remove-AgentService
    Unregister-Machine
    Remove-AgentFiles
    Write-Host "`nOpen ACE agent removed. The AI CLI installed with npm was left in place."
  } catch {
    Write-Host "error: $($_.Exception.Message)" -ForegroundColor Red
    $Script:OpenAceExitCode = 1
  }
}

$OpenAceExitCode = 0
Uninstall-OpenAceAgent
if ($OpenAceRunningAsFile) { exit $OpenAceExitCode }
